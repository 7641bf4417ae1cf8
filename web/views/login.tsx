// Sign in (username or email), or create an account. The first-start admin uses the printed link.
import { useState } from 'preact/hooks'
import { ErrorNote } from '../components/ui'
import { linkError, login, register, setFirstPassword } from '../lib/auth'
import type { User } from '../lib/types'

/** A form's submit: busy while `run` works, its error shown until the next try. */
function useSubmit(run: () => Promise<void>, initialError: unknown = null) {
  const [error, setError] = useState<unknown>(initialError)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await run()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  return { error, busy, submit }
}

export function Login(props: { onSignedIn: (u: User) => void }) {
  const [mode, setMode] = useState<'login' | 'register'>('login')
  const [name, setName] = useState('')
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const { error, busy, submit } = useSubmit(
    async () =>
      props.onSignedIn(
        mode === 'login' ? await login(name, password) : await register(name, email, password),
      ),
    linkError ? new Error(linkError) : null,
  )

  return (
    <div class="login-wrap">
      <form class="card login" onSubmit={submit}>
        <div class="brand big">
          <span class="logo" aria-hidden="true" />
          tasklab
        </div>
        <p class="muted">A PostgreSQL task queue you can watch, poke and break.</p>
        <h1>{mode === 'login' ? 'Sign in' : 'Create an account'}</h1>
        <ErrorNote error={error} />
        <label>
          {mode === 'login' ? 'Username or email' : 'Username'}
          <input
            name="username"
            autocomplete="username"
            required
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        {mode === 'register' && (
          <label>
            Email
            <input
              name="email"
              type="email"
              autocomplete="email"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          </label>
        )}
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete={mode === 'login' ? 'current-password' : 'new-password'}
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="btn primary wide" disabled={busy}>
          {busy ? 'Please wait…' : mode === 'login' ? 'Sign in' : 'Create account and sign in'}
        </button>
        <p class="muted small">
          {mode === 'login' ? (
            <>
              No account?{' '}
              <button type="button" class="link" onClick={() => setMode('register')}>
                Create one
              </button>
              . The first admin signs in with the one-time link tasklab printed when it started.
            </>
          ) : (
            <>
              Have an account?{' '}
              <button type="button" class="link" onClick={() => setMode('login')}>
                Sign in
              </button>
            </>
          )}
        </p>
      </form>
    </div>
  )
}

/**
 * Right after a one-time link: the admin has no password, so signing out would be a dead end (the
 * link is spent). Asks for one now; "Later" keeps a reminder on every page until it is set.
 */
export function SetPassword(props: { user: User; onDone: () => void; onLater?: () => void }) {
  const [password, setPassword] = useState('')
  const [again, setAgain] = useState('')
  const { error, busy, submit } = useSubmit(async () => {
    if (password !== again) throw new Error('The two passwords differ.')
    await setFirstPassword(password)
    props.onDone()
  })

  return (
    <div class="login-wrap">
      <form class="card login" onSubmit={submit} data-set-password>
        <div class="brand big">
          <span class="logo" aria-hidden="true" />
          tasklab
        </div>
        <h1>Set a password</h1>
        <p class="muted">
          You are signed in as <strong>{props.user.username}</strong> with a one-time link, which is now
          spent. Set a password so you can sign in again after signing out.
        </p>
        <ErrorNote error={error} />
        <input type="hidden" name="username" autocomplete="username" value={props.user.username} />
        <label>
          New password
          <input
            name="new-password"
            type="password"
            autocomplete="new-password"
            required
            minLength={8}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <label>
          Repeat it
          <input
            name="repeat-password"
            type="password"
            autocomplete="new-password"
            required
            value={again}
            onInput={(e) => setAgain(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="btn primary wide" disabled={busy}>
          {busy ? 'Please wait…' : 'Set password'}
        </button>
        {props.onLater && (
          <p class="muted small">
            <button type="button" class="link" onClick={props.onLater}>
              Later
            </button>{' '}
            — locked out after signing out? <code>tasklab admin reset-link</code> prints a new link.
          </p>
        )}
      </form>
    </div>
  )
}
