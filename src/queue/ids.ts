// Time-ordered task ids (UUIDv7, RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter,
// then 62 random bits. New rows land at the right edge of the primary key instead of a random
// leaf, so a non-HOT update touches a page that is already in cache (measured in a SQL loop at
// 400,000 rows: +35 %; +7 % in the bench at 20,000). Made here, not by PostgreSQL's uuidv7(), which
// only PostgreSQL 18 has; migrations/0006_time_ordered_ids.sql gives the column the same default.
import { randomFillSync } from 'node:crypto'

let lastMs = 0
let counter = 0
const pool = new Uint8Array(16 * 256)
let poolAt = pool.length

function randomBytes16(): Uint8Array {
  // One getRandom call per 256 ids instead of one per id.
  if (poolAt >= pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  poolAt += 16
  return pool.subarray(poolAt - 16, poolAt)
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** A UUIDv7; ids made by one process are strictly increasing (the counter orders those of one ms). */
export function uuidv7(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now
    counter = 0
  } else if (++counter > 0xfff) {
    // 4,096 ids in one millisecond: borrow the next one rather than repeat an order.
    lastMs++
    counter = 0
  }
  const b = Uint8Array.from(randomBytes16())
  const ms = lastMs
  b[0] = Math.floor(ms / 2 ** 40) & 0xff
  b[1] = Math.floor(ms / 2 ** 32) & 0xff
  b[2] = (ms >>> 24) & 0xff
  b[3] = (ms >>> 16) & 0xff
  b[4] = (ms >>> 8) & 0xff
  b[5] = ms & 0xff
  b[6] = 0x70 | (counter >>> 8)
  b[7] = counter & 0xff
  b[8] = 0x80 | (b[8]! & 0x3f)
  let s = ''
  for (let i = 0; i < 16; i++) {
    s += HEX[b[i]!]
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-'
  }
  return s
}
