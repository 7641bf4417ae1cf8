// ISO 8601 date-times from clients. `new Date('2030-02-31T00:00:00Z')` quietly rolls over to
// 3 March (issue 12, item 9): the calendar fields are checked before the string is parsed.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):?(\d{2}))?)?$/

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

/** The instant, or null when the text is not an ISO 8601 date-time of a real calendar day. */
export function parseIsoDateTime(text: string): Date | null {
  const m = ISO.exec(text)
  if (!m) return null
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((v) => Number(v ?? 0))
  const offH = Number(m[8] ?? 0)
  const offM = Number(m[9] ?? 0)
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysIn(year!, month!)) return null
  if (hour > 23 || minute > 59 || second > 59 || offH > 23 || offM > 59) return null
  const d = new Date(text)
  return Number.isNaN(d.getTime()) || d.getUTCFullYear() > 9999 ? null : d
}
