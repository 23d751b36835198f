/**
 * One text file written line by line and replaced whole: lines stream into an owner-named temporary sibling (so a
 * later run can remove what a killed one left, util/owner), every write loops until all bytes are down, and commit
 * fsyncs and renames it over the target. Until commit, the previous file is untouched; a failed write, fsync or
 * rename removes the temp and leaves the previous file as it was. Memory stays flat whatever the number of lines: the
 * cache listing of millions of images and predict's rows both go through here.
 */
import * as fs from 'fs';
import { commitTempFile, fsyncFileSync, tempSibling, writeAllSync } from './atomic';
import { translateFsError } from './fsErrors';

/** Lines are gathered up to this many characters before one write: a row per syscall would dominate small rows. */
const FLUSH_CHARS = 1 << 16;

export class LineFile {
  /** The temporary sibling the lines go to until commit (named after its owner: `.NAME.tmp-PID-START-RANDOM`). */
  readonly tempPath: string;
  private fd: number;
  private pending: string[] = [];
  private pendingChars = 0;

  /** Opens the temporary sibling of `target`; the target's folder must exist. */
  constructor(readonly target: string) {
    this.tempPath = tempSibling(target);
    try {
      this.fd = fs.openSync(this.tempPath, 'w');
    } catch (e) {
      throw translateFsError(e, target) ?? e;
    }
  }

  /** Appends text (the caller ends its lines with \n). A failed write removes the temp and throws one sentence. */
  write(text: string): void {
    if (this.fd < 0) throw new Error(`LineFile ${this.target} is already closed`);
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars > FLUSH_CHARS) this.guard(() => this.flush());
  }

  /** Appends one JSON line. */
  add(value: object): void {
    this.write(JSON.stringify(value) + '\n');
  }

  /** Writes what is pending, fsyncs, and moves the file into place. */
  commit(): void {
    if (this.fd < 0) throw new Error(`LineFile ${this.target} is already closed`);
    this.guard(() => {
      this.flush();
      fsyncFileSync(this.fd, this.target);
      fs.closeSync(this.fd);
      this.fd = -1;
      commitTempFile(this.tempPath, this.target);
    });
  }

  /** Drops what was written; the previous file stays. Safe to call more than once, and after a failure. */
  abort(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already unusable: the temp is removed below all the same
      }
    }
    this.fd = -1;
    this.pending = [];
    this.pendingChars = 0;
    fs.rmSync(this.tempPath, { force: true });
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    writeAllSync(this.fd, this.pending.join(''), this.target);
    this.pending = [];
    this.pendingChars = 0;
  }

  private guard(step: () => void): void {
    try {
      step();
    } catch (e) {
      this.abort();
      throw translateFsError(e, this.target) ?? e;
    }
  }
}
