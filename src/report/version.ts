/** convfeat's own version: kept here for the report's imports; it lives in util so the linear stage can stamp it. */
export { convfeatVersion } from '../util/version';
