/** TF.js layers-model → ONNX conversion. */
export {
  convertKerasModel,
  convertLayersModel,
  CONVERTER_NAME,
  CONVERTER_VERSION,
  INPUT_NAME,
  EMBEDDING_OUTPUT,
  PROBABILITIES_OUTPUT,
  type ConvertOptions,
} from './convert';
export { readTfjsLayersModel, type TfjsLayersModel, type KerasWeight } from './weights';
