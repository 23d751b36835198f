/** Every command the CLI registers, in the order `--help` lists them. */
import type { CommandModule } from 'yargs';
import { modelsCommand } from './models';
import { extractCommand } from './extract';
import { preprocessCommand } from './preprocess';
import { cacheCommand } from './cache';
import { fitLinearCommand } from './fitLinear';
import { evaluateCommand } from './evaluate';
import { predictCommand } from './predict';
import { demoCommand } from './demo';
import { adviseCommand } from './advise';
import { exportCommand } from './export';
import { gpuCommand } from './gpu';
import { auditCommand } from './audit';
import { similarCommand } from './similar';

export const commands: CommandModule[] = [
  demoCommand,
  modelsCommand,
  extractCommand,
  fitLinearCommand,
  evaluateCommand,
  predictCommand,
  adviseCommand,
  exportCommand,
  auditCommand,
  similarCommand,
  preprocessCommand,
  cacheCommand,
  gpuCommand,
] as unknown as CommandModule[];
