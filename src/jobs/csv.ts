/** CSV per RFC 4180: CRLF line ends; a field with a comma, quote or line break is quoted, quotes doubled. */

/**
 * A text cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'`: spreadsheet programs would run it as
 * a formula (CSV injection, OWASP). Item names and descriptions are typed by staff, and exports are opened in
 * spreadsheets by others.
 */
export function textCell(value: string | null): string {
  if (value === null) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvLine(cells: readonly string[]): string {
  return `${cells.join(',')}\r\n`;
}
