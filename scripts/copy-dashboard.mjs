// The dashboard is plain HTML, CSS and ES modules: the build copies it beside the compiled
// HTTP module (dist/dashboard), where errand/http serves it from. No bundler, no CDN.
import { cpSync, rmSync } from 'node:fs'

rmSync('dist/dashboard', { recursive: true, force: true })
cpSync('src/dashboard', 'dist/dashboard', { recursive: true })
