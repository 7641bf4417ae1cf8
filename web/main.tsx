// Entry point of the control panel bundle (web/index.html imports it; Bun bundles it into the binary).
import { render } from 'preact'
import { App } from './app'
import { interceptLinks } from './lib/router'

interceptLinks()
render(<App />, document.getElementById('app')!)
