// The shell: who is signed in, the navigation, the connection indicator, and which view to show.
import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { errorText, Toasts, toast } from './components/ui'
import { ApiError, answer, api, dataOf, getToken, setToken, whenUnauthorized } from './lib/api'
import { forgetPasswordNeed, needsPassword, redeemLoginLink } from './lib/auth'
import { connectLive, disconnectLive, useLive } from './lib/live'
import { navigate, useLocation } from './lib/router'
import type { User } from './lib/types'
import { Chaos } from './views/chaos'
import { CreateTask } from './views/create-task'
import { DeadLetter } from './views/dead-letter'
import { Login, SetPassword } from './views/login'
import { Overview } from './views/overview'
import { Storage } from './views/storage'
import { TaskDetail } from './views/task-detail'
import { Tasks } from './views/tasks'
import { Types } from './views/types'
import { Workers } from './views/workers'

const USER_KEY = 'tasklab.user'
function remember(u: User | null): void {
  if (u) localStorage.setItem(USER_KEY, JSON.stringify(u))
  else localStorage.removeItem(USER_KEY)
}
function rememberedUser(): User | null {
  try {
    return JSON.parse(localStorage.getItem(USER_KEY) ?? 'null') as User | null
  } catch {
    return null
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined)
  /** undefined until the probe answers: a deep link to /chaos waits for it instead of saying 'not found'. */
  const [chaos, setChaos] = useState<boolean | undefined>(undefined)
  /** 'ask' right after a one-time link; 'later' once put off (a reminder stays until it is set). */
  const [password, setPassword] = useState<'ask' | 'later' | null>(null)

  const signedIn = (u: User) => {
    remember(u)
    setUser(u)
    connectLive()
    // The chaos view exists only when the server runs with chaos on (GET /health says so; the
    // chaos routes themselves answer 404 otherwise).
    if (u.role !== 'admin') return setChaos(false)
    // Asked a second later (unless /chaos is open): Chromium opens 6 connections per host and the
    // event stream holds one, so the first page's own requests go first.
    setTimeout(
      () => {
        dataOf(api.GET('/api/v1/health'))
          .then((health) => setChaos('chaos' in health && health.chaos))
          .catch(() => setChaos(false))
      },
      location.pathname === '/chaos' ? 0 : 1000,
    )
  }

  useEffect(() => {
    whenUnauthorized(() => {
      setToken(null)
      remember(null)
      disconnectLive()
      setUser(null)
    })
    void (async () => {
      try {
        await redeemLoginLink()
        if (needsPassword()) setPassword('ask')
        if (!getToken()) return setUser(null)
        // Counts start loading in parallel with /auth/me (a 401 on either disconnects again).
        connectLive()
        // Show the panel at once with the account remembered from last time; /auth/me confirms it
        // (a 401 swaps to the login view). Saves a round trip before the first useful paint.
        const remembered = rememberedUser()
        if (remembered) signedIn(remembered)
        const data = await dataOf(api.GET('/api/v1/auth/me'))
        remember(data)
        if (!remembered) signedIn(data)
        else setUser(data)
      } catch (err) {
        // A 401 already signed out (whenUnauthorized). Anything else (the database restarting, a
        // 503) keeps the session: the remembered account stays on screen, or the login view shows
        // and a reload tries again.
        if (err instanceof ApiError && err.status === 401) return
        toast(`Could not check the session: ${errorText(err)}`, 'error')
        if (!rememberedUser()) setUser(null)
      }
    })()
  }, [])

  if (user === undefined) return <p class="boot">Loading tasklab…</p>
  if (user === null)
    return (
      <>
        <Login onSignedIn={signedIn} />
        <Toasts />
      </>
    )
  const logout = async () => {
    await answer(api.POST('/api/v1/auth/logout')).catch(() => {})
    forgetPasswordNeed()
    setPassword(null)
    setToken(null)
    remember(null)
    disconnectLive()
    setUser(null)
    navigate('/')
  }
  if (password === 'ask')
    return <SetPassword user={user} onDone={() => setPassword(null)} onLater={() => setPassword('later')} />
  const reminder = password === 'later' && (
    <div class="note warn" data-no-password>
      You have no password yet: after signing out, only <code>tasklab admin reset-link</code> lets you back
      in.{' '}
      <button type="button" class="link" onClick={() => setPassword('ask')}>
        Set one now
      </button>
    </div>
  )
  return <Shell user={user} chaos={chaos} onLogout={logout} notice={reminder} />
}

const NAV: { href: string; label: string; match: (p: string) => boolean }[] = [
  { href: '/', label: 'Overview', match: (p) => p === '/' },
  {
    href: '/tasks',
    label: 'Tasks',
    match: (p) => p === '/tasks' || (p.startsWith('/tasks/') && p !== '/tasks/new'),
  },
  { href: '/tasks/new', label: 'New task', match: (p) => p === '/tasks/new' },
  { href: '/dead-letter', label: 'Dead letter', match: (p) => p === '/dead-letter' },
  { href: '/types', label: 'Task types', match: (p) => p === '/types' },
  { href: '/workers', label: 'Workers', match: (p) => p === '/workers' },
]

function Shell(props: {
  user: User
  chaos: boolean | undefined
  onLogout: () => void
  notice?: ComponentChildren
}) {
  const loc = useLocation()
  const live = useLive()
  const search = useRef<HTMLInputElement>(null)
  const [q, setQ] = useState(loc.query.get('q') ?? '')

  useEffect(() => setQ(loc.query.get('q') ?? ''), [loc.path, loc.query.get('q')])
  useEffect(() => {
    // `/` focuses search, as in GitHub and Gmail; not while typing somewhere else.
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return
      if (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)) return
      e.preventDefault()
      search.current?.focus()
      search.current?.select()
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [])

  const failed = live.counts?.failed
  const admin = props.user.role === 'admin'
  const nav = [
    ...NAV,
    ...(admin ? [{ href: '/storage', label: 'Storage', match: (p: string) => p === '/storage' }] : []),
    ...(props.chaos ? [{ href: '/chaos', label: 'Chaos', match: (p: string) => p === '/chaos' }] : []),
  ]
  const conn = { connecting: 'Connecting…', live: 'Live', polling: 'Polling every 2 s', offline: 'Offline' }[
    live.conn
  ]
  const connHelp = {
    connecting: 'Opening the live event stream.',
    live: 'Receiving server-sent events: counts and transitions arrive as they happen.',
    polling: 'The event stream is unavailable; refreshing every 2 seconds instead and retrying the stream.',
    offline: 'The server does not answer; retrying.',
  }[live.conn]

  return (
    <div class="shell">
      <aside class="side">
        <a href="/" class="brand" aria-label="tasklab overview">
          <span class="logo" aria-hidden="true" />
          tasklab
        </a>
        <nav>
          {nav.map((n) => (
            <a
              key={n.href}
              href={n.href}
              class={n.match(loc.path) ? 'active' : ''}
              aria-current={n.match(loc.path) ? 'page' : undefined}
            >
              {n.label}
              {n.href === '/dead-letter' && failed ? <span class="count danger">{failed}</span> : null}
            </a>
          ))}
        </nav>
        <div class="side-foot">
          <a href="/api/v1/docs" class="docs-link" title="Every button here is a call of this API">
            API docs
          </a>
          <div class={`conn ${live.conn}`} title={connHelp} data-conn={live.conn}>
            <span class="dot" aria-hidden="true" />
            {conn}
          </div>
          <div class="who">
            <span title={props.user.email}>
              {props.user.username}
              {props.user.role === 'admin' && <span class="role">admin</span>}
            </span>
            <button type="button" class="link" onClick={props.onLogout}>
              Sign out
            </button>
          </div>
        </div>
      </aside>
      <div class="main">
        <header class="top">
          <form
            class="search"
            onSubmit={(e) => {
              e.preventDefault()
              navigate(q ? `/tasks?q=${encodeURIComponent(q)}` : '/tasks')
            }}
          >
            <input
              ref={search}
              type="search"
              placeholder="Search tasks by id, type, error or metadata"
              value={q}
              onInput={(e) => setQ(e.currentTarget.value)}
              aria-label="Search tasks"
            />
            <kbd title="Press / to search">/</kbd>
          </form>
          <a href="/tasks/new" class="btn primary">
            + New task
          </a>
        </header>
        <main>
          {props.notice}
          <Route path={loc.path} query={loc.query} user={props.user} chaos={props.chaos} />
        </main>
      </div>
      <Toasts />
    </div>
  )
}

function Route(props: { path: string; query: URLSearchParams; user: User; chaos: boolean | undefined }) {
  const { path, query, user } = props
  if (path === '/') return <Overview />
  if (path === '/tasks') return <Tasks query={query} />
  if (path === '/tasks/new') return <CreateTask query={query} />
  if (path.startsWith('/tasks/') && UUID.test(path.slice(7))) return <TaskDetail id={path.slice(7)} />
  if (path === '/dead-letter') return <DeadLetter />
  if (path === '/types') return <Types admin={user.role === 'admin'} />
  if (path === '/workers') return <Workers />
  if (path === '/storage') return <Storage query={query} />
  if (path === '/chaos' && props.chaos) return <Chaos />
  if (path === '/chaos' && props.chaos === undefined)
    return <div class="page muted">Checking whether chaos is enabled…</div>
  return (
    <div class="page">
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <a href="/">Back to the overview</a>.
      </p>
    </div>
  )
}
