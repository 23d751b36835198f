/**
 * Option blocks shared by the commands: each declares its options once (type, choices, default) and parses them
 * into the library's option names. A command adds a block where its options belong in --help.
 */
export { addOptions, tuned, type OptionSpecs } from './define';
export {
  PRECISION_OPTION,
  withModelOptions,
  modelChoice,
  withDeviceOptions,
  deviceChoice,
  withImageOptions,
  imageChoice,
  withBackboneOptions,
  backboneChoice,
  type ModelArgs,
  type ModelBlock,
  type ModelChoice,
  type DeviceArgs,
  type ImageArgs,
  type BackboneArgs,
} from './backbone';
export {
  LAYOUTS,
  withLayoutOption,
  withBatchOptions,
  batchChoice,
  withFileSizeOption,
  fileSizeChoice,
  type LayoutArgs,
  type BatchArgs,
  type FileSizeArgs,
} from './data';
export { withClassifierOption, withSolverOptions, solverChoice, type ClassifierArgs, type SolverArgs } from './linear';
