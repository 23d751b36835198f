/**
 * CSV cells as convfeat writes them (predict's CSV, and any other CSV output): RFC 4180 quoting, and neutralisation
 * of cells a spreadsheet would run as a formula (OWASP "CSV Injection"): a cell that begins with =, +, -, @, a tab or
 * a carriage return gets a leading apostrophe, so `=HYPERLINK(...)` in a file or class name stays text in Excel,
 * LibreOffice and Google Sheets. Numbers we format ourselves (scores) never start with those characters.
 * JSONL output is not touched: its readers are programs, which must see the names as they are.
 */

/** Characters that make spreadsheet software read a cell as a formula (OWASP). */
const FORMULA_START = /^[=+\-@\t\r]/;

/** The text a spreadsheet shows for `value`: formula-leading values get a leading apostrophe. */
export function neutraliseCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** One CSV cell: neutralised, then quoted when it holds a comma, quote, line break or leading/trailing space. */
export function csvCell(value: string): string {
  const text = neutraliseCell(value);
  return /[",\n\r]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV record with its line end. */
export function csvRow(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\n`;
}
