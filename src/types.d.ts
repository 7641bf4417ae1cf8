// Bun imports files `with { type: 'text' }` as strings (and embeds them in compiled binaries).
declare module '*.sql' {
  const text: string
  export default text
}
