// Fetch-on-render with the previous answer kept while the next one loads (no flicker on live
// refreshes), and a refetch whenever `refreshKey` moves (the live sequence, a filter change).
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { type Page, request } from './api'

export interface Loaded<T> {
  data: T | undefined
  total: number | undefined
  error: unknown
  loading: boolean
  reload: () => void
}

export function useApi<T>(path: string | null, refreshKey: unknown = 0, minIntervalMs = 500): Loaded<T> {
  const [page, setPage] = useState<Page<T> | undefined>()
  const [error, setError] = useState<unknown>()
  const [loading, setLoading] = useState(false)
  const [nonce, setNonce] = useState(0)
  const inflight = useRef(0)
  const lastPath = useRef<string | null>(null)
  const lastAt = useRef(0)
  const lastNonce = useRef(0)
  const timer = useRef<ReturnType<typeof setTimeout>>()

  useEffect(() => {
    if (!path) return
    const pathChanged = lastPath.current !== path
    lastPath.current = path
    if (pathChanged) setPage(undefined)
    const go = () => {
      const id = ++inflight.current
      lastAt.current = Date.now()
      setLoading(true)
      request<T>('GET', path)
        .then((p) => {
          if (id !== inflight.current) return
          setPage(p)
          setError(undefined)
        })
        .catch((e) => id === inflight.current && setError(e))
        .finally(() => id === inflight.current && setLoading(false))
    }
    // Live refreshes are throttled (a busy queue sends many changes a second); a new path or an
    // explicit reload() after the user's own action is fetched at once.
    const forced = lastNonce.current !== nonce
    lastNonce.current = nonce
    const wait = pathChanged || forced ? 0 : Math.max(0, minIntervalMs - (Date.now() - lastAt.current))
    clearTimeout(timer.current)
    if (wait === 0) go()
    else timer.current = setTimeout(go, wait)
    return () => clearTimeout(timer.current)
  }, [path, refreshKey, nonce, minIntervalMs])

  const reload = useCallback(() => setNonce((n) => n + 1), [])
  return { data: page?.data, total: page?.total, error, loading, reload }
}
