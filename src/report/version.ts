/** Moved to util/ so that report/ and audit/ (siblings) share it. */
export { convfeatVersion } from '../util/version';
