/**
 * Moved to commands/options/ (the option blocks every command shares). Kept so that predict and export, which still
 * import PRECISION_OPTION from here, build until they use the blocks; delete once nothing imports this file.
 */
export { PRECISION_OPTION, withBackboneOptions, type BackboneArgs } from './options';
