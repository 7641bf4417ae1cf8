// PGlite's engine files, imported `with { type: 'file' }`: Bun gives a path, and
// `bun build --compile` embeds the file in the binary (the path then points inside it).
declare module '*.wasm' {
  const path: string
  export default path
}
declare module '*.data' {
  const path: string
  export default path
}
