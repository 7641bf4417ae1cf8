// Bun imports files `with { type: 'text' }` as strings (and embeds them in compiled binaries).
declare module '*.sql' {
  const text: string
  export default text
}

// Imported `with { type: 'file' }`: the path of the file embedded in the binary.
declare module 'swagger-ui-dist/swagger-ui-bundle.js' {
  const path: string
  export default path
}
declare module 'swagger-ui-dist/swagger-ui.css' {
  const path: string
  export default path
}
