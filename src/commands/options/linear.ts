/**
 * The options of commands that train or use a linear classifier: the classifier file, and the solver block (solver,
 * C, scale) that fit-linear and advise share, with the same defaults as the library (svm, C chosen, no scaling).
 */
import type { Argv } from 'yargs';
import { SCALE_KINDS, SOLVERS, type ScaleKind, type SolverKind } from '../../linear';
import { positiveNumber } from '../../util/validate';
import { addOptions } from './define';

export interface ClassifierArgs {
  classifier: string;
}

/** --classifier: a file written by fit-linear; required unless the command can do without (audit fits one). */
export function withClassifierOption<T>(y: Argv<T>, block: { required?: boolean } = {}): Argv<T & ClassifierArgs> {
  return addOptions<T, ClassifierArgs>(y, {
    classifier: block.required === false ? { type: 'string' } : { type: 'string', demandOption: true },
  });
}

export interface SolverArgs {
  solver: SolverKind;
  C?: number;
  scale: ScaleKind;
}

/** --solver (default svm), --C (default: chosen), --scale (default none). */
export function withSolverOptions<T>(y: Argv<T>): Argv<T & SolverArgs> {
  return addOptions<T, SolverArgs>(y, {
    solver: { choices: SOLVERS, default: 'svm' as SolverKind },
    C: { type: 'number' },
    scale: { choices: SCALE_KINDS, default: 'none' as ScaleKind },
  });
}

/** The solver block in the library's names; --C validated (positive) when given. */
export function solverChoice(args: SolverArgs): { solver: SolverKind; scale: ScaleKind; C?: number } {
  return {
    solver: args.solver,
    scale: args.scale,
    ...(args.C !== undefined ? { C: positiveNumber('--C', args.C) } : {}),
  };
}
