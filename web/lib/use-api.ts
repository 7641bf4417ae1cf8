// Fetch-on-render with the previous answer kept while the next one loads (no flicker on live
// refreshes), and a refetch whenever `key` (what is asked: path and filters) or `refreshKey` (the
// live sequence) moves. `load` is a typed call, `() => answer(api.GET('/api/v1/workers'))`.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'

interface Envelope {
  data: unknown
  meta?: { total: number }
}

export interface Loaded<T> {
  data: T | undefined
  total: number | undefined
  error: unknown
  loading: boolean
  reload: () => void
}

export function useApi<E extends Envelope>(
  key: string | null,
  load: () => Promise<E>,
  refreshKey: unknown = 0,
  minIntervalMs = 500,
): Loaded<E['data']> {
  const [page, setPage] = useState<E | undefined>()
  const [error, setError] = useState<unknown>()
  const [loading, setLoading] = useState(false)
  const [nonce, setNonce] = useState(0)
  const inflight = useRef(0)
  const lastKey = useRef<string | null>(null)
  const lastAt = useRef(0)
  const lastNonce = useRef(0)
  const timer = useRef<ReturnType<typeof setTimeout>>()
  // The newest closure, without making every render a new request.
  const loader = useRef(load)
  loader.current = load

  useEffect(() => {
    if (key === null) return
    const keyChanged = lastKey.current !== key
    lastKey.current = key
    if (keyChanged) setPage(undefined)
    const go = () => {
      const id = ++inflight.current
      lastAt.current = Date.now()
      setLoading(true)
      loader
        .current()
        .then((p) => {
          if (id !== inflight.current) return
          setPage(p)
          setError(undefined)
        })
        .catch((e) => id === inflight.current && setError(e))
        .finally(() => id === inflight.current && setLoading(false))
    }
    // Live refreshes are throttled (a busy queue sends many changes a second); a new key or an
    // explicit reload() after the user's own action is fetched at once.
    const forced = lastNonce.current !== nonce
    lastNonce.current = nonce
    const wait = keyChanged || forced ? 0 : Math.max(0, minIntervalMs - (Date.now() - lastAt.current))
    clearTimeout(timer.current)
    if (wait === 0) go()
    else timer.current = setTimeout(go, wait)
    return () => clearTimeout(timer.current)
  }, [key, refreshKey, nonce, minIntervalMs])

  const reload = useCallback(() => setNonce((n) => n + 1), [])
  return { data: page?.data, total: page?.meta?.total, error, loading, reload }
}
