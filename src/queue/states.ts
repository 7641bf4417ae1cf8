// The state machine lives in src/shared/states.ts, where the panel may import it too; the engine
// keeps importing it from here.
export * from '../shared/states'
