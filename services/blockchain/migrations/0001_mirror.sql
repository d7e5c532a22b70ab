-- The mirror of the ledger: blocks, transactions, writes and events as committed, the projections of the
-- domain records, and the checkpoint, all written in one database transaction per block.

CREATE TABLE mirror_checkpoint (
    channel     TEXT PRIMARY KEY,
    next_block  BIGINT NOT NULL CHECK (next_block >= 0),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE blocks (
    channel        TEXT NOT NULL,
    number         BIGINT NOT NULL,
    header_hash    BYTEA NOT NULL,
    previous_hash  BYTEA NOT NULL,
    data_hash      BYTEA NOT NULL,
    tx_count       INTEGER NOT NULL,
    is_config      BOOLEAN NOT NULL,
    mirrored_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, number)
);

CREATE TABLE transactions (
    channel          TEXT NOT NULL,
    block_number     BIGINT NOT NULL,
    position         INTEGER NOT NULL,
    tx_id            TEXT NOT NULL,
    header_type      TEXT NOT NULL,
    validation_code  INTEGER,
    validation       TEXT NOT NULL,
    creator_msp      TEXT NOT NULL,
    chaincode        TEXT,
    function         TEXT,
    tx_timestamp     TEXT,
    PRIMARY KEY (channel, block_number, position),
    FOREIGN KEY (channel, block_number) REFERENCES blocks (channel, number)
);
CREATE INDEX transactions_by_tx_id ON transactions (tx_id);

CREATE TABLE writes (
    channel       TEXT NOT NULL,
    block_number  BIGINT NOT NULL,
    position      INTEGER NOT NULL,
    namespace     TEXT NOT NULL,
    -- Keys are bytes: composite keys contain U+0000, which Postgres text cannot hold.
    key           BYTEA NOT NULL,
    value         BYTEA NOT NULL,
    is_delete     BOOLEAN NOT NULL,
    PRIMARY KEY (channel, block_number, position, namespace, key),
    FOREIGN KEY (channel, block_number, position) REFERENCES transactions (channel, block_number, position)
);
CREATE INDEX writes_by_key ON writes (channel, namespace, key);

CREATE TABLE events (
    channel       TEXT NOT NULL,
    block_number  BIGINT NOT NULL,
    position      INTEGER NOT NULL,
    tx_id         TEXT NOT NULL,
    chaincode     TEXT NOT NULL,
    name          TEXT NOT NULL,
    payload       BYTEA NOT NULL,
    PRIMARY KEY (channel, block_number, position),
    FOREIGN KEY (channel, block_number, position) REFERENCES transactions (channel, block_number, position)
);

-- The current version of every domain record (club, member, agreement, visit, proposal, vote, settlement,
-- networkrules), from the writes of VALID transactions only.
CREATE TABLE records (
    channel       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    record_key    TEXT NOT NULL,
    value         JSONB,
    deleted       BOOLEAN NOT NULL,
    block_number  BIGINT NOT NULL,
    tx_id         TEXT NOT NULL,
    PRIMARY KEY (channel, kind, record_key)
);
