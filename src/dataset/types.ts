/** What a scan of the user's input yields: the images to extract, with labels and splits where the input has them. */

export type Split = 'train' | 'val' | 'test';

export interface DatasetItem {
  /** Absolute path, as reached from the input (symbolic links are not resolved, so paths read like the user's tree). */
  path: string;
  /** Path relative to the dataset root with POSIX separators: the stable key of an item across machines. */
  relPath: string;
  /**
   * The path as bytes, present only when a name on the way is not valid UTF-8 (Linux allows any bytes): `path` and
   * `relPath` then show the bad bytes as \xNN escapes, and files are opened through these bytes.
   */
  rawPath?: Buffer;
  label?: string;
  split?: Split;
}

/** Something found while scanning that is not an item: a symlink loop, an unreadable folder, a duplicate row. */
export interface ScanProblem {
  path: string;
  reason: string;
}

export type DatasetKind = 'imagefolder' | 'imagefolder-splits' | 'manifest' | 'unlabelled';

export interface Dataset {
  /** The folder paths are relative to: the input folder, or the folder holding the manifest. */
  root: string;
  kind: DatasetKind;
  /** Sorted labels of the whole input (before any split filter), so class ids agree across splits. */
  classes: string[];
  items: DatasetItem[];
  problems: ScanProblem[];
  /** Harmless oddities worth a line (a manifest row listed twice); never failures, never fail --strict. */
  notes?: ScanProblem[];
}

/** 'auto' infers the layout; the others force it (e.g. a class that happens to be called "test"). */
export type LayoutOption = 'auto' | 'imagefolder' | 'imagefolder-splits' | 'unlabelled';

export interface ScanOptions {
  /** Keep only items of this split (aliases valid/validation accepted). */
  split?: string;
  layout?: LayoutOption;
  /** Name of the option that carried `input`, for error messages (default `param('data')`: data, or --data from the CLI). */
  inputName?: string;
}
