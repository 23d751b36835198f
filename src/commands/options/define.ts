/**
 * How the option blocks are declared. A block is an ordered list of yargs options that several commands share; a
 * command adds the block where its options should appear in --help (yargs lists them in declaration order). Blocks
 * carry what makes an option the same everywhere (type, choices, default, and the description where every command
 * words it alike, as --precision); other words live in commands/help.ts (COMMON for the shared sentence,
 * COMMAND_HELP where a command says it its own way), so moving a declaration into a block changes no help text.
 */
import type { Argv, Options } from 'yargs';

/** A named option's declaration; `false` leaves it out for a command that does not take it. */
export type OptionSpecs = Record<string, Options | false>;

/** Adds the options in their order, skipping those set to false. */
export function addOptions<T, A>(y: Argv<T>, specs: OptionSpecs): Argv<T & A> {
  let out: Argv<T> = y;
  for (const [name, spec] of Object.entries(specs)) if (spec !== false) out = out.option(name, spec) as Argv<T>;
  return out as unknown as Argv<T & A>;
}

/** `spec` with `extra` merged, or false when the command leaves the option out. */
export function tuned(spec: Options, extra: Options | boolean | undefined): Options | false {
  if (extra === false) return false;
  return extra === undefined || extra === true ? spec : { ...spec, ...extra };
}
