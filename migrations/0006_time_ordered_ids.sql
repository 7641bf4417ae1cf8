-- Time-ordered task ids (issue 13, item 3). The API makes UUIDv7 ids itself (src/queue/ids.ts);
-- rows inserted without one (imports, tests' row factories) get the same kind from this default.
-- PostgreSQL 18's uuidv7() does not exist on 14-17, so the bits are set by hand: the first 48 are
-- Unix milliseconds, version nibble 7 (bits 52 and 53 turn gen_random_uuid's 4 into 7), variant kept.
CREATE FUNCTION tasklab_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;
ALTER TABLE tasks ALTER COLUMN id SET DEFAULT tasklab_uuid_v7();
