-- Workers that speak the HTTP worker protocol (any language, CONTRACT §6) are listed beside
-- tasklab's own worker processes. The server runs no timer for their attempts, so it fails their
-- tasks past the attempt's timeout itself (src/queue/remote.ts); this column tells them apart.
ALTER TABLE workers ADD COLUMN kind text NOT NULL DEFAULT 'process' CHECK (kind IN ('process', 'remote'));
