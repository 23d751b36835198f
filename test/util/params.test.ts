import { kebabFlag, param, useParamNames } from '../../src/util/params';
import { flagFor, FLAG_EXCEPTIONS, useCliParamNames } from '../../src/commands/flags';

afterEach(() => useParamNames());

test('library messages name the API option; after the CLI installs its names, the flag', () => {
  expect(param('batchSize')).toBe('batchSize');
  useCliParamNames();
  expect(param('batchSize')).toBe('--batch-size');
  expect(param('topK')).toBe('--top-k');
  useParamNames();
  expect(param('topK')).toBe('topK');
});

test('kebab flags and the listed exceptions', () => {
  expect(kebabFlag('maxFileSize')).toBe('--max-file-size');
  expect(kebabFlag('model')).toBe('--model');
  for (const [api, flag] of Object.entries(FLAG_EXCEPTIONS)) expect(flagFor(api)).toBe(flag);
});
