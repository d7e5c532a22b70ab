-- The block as delivered, so the audit can recompute its data hash, check its orderer signatures and compare
-- the derived rows with it; the cursor of the event publisher; and typed views of the domain projections.

ALTER TABLE blocks ADD COLUMN raw BYTEA;

-- Events up to (next_block, next_position) exclusive have been published to NATS JetStream and acknowledged.
CREATE TABLE event_publication (
    channel        TEXT PRIMARY KEY,
    next_block     BIGINT NOT NULL,
    next_position  INTEGER NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX events_by_name ON events (channel, name);
CREATE INDEX records_by_kind ON records (channel, kind) WHERE NOT deleted;

CREATE VIEW clubs AS
SELECT channel, record_key AS id, value->>'name' AS name, value->>'msp_id' AS msp_id,
       value->>'status' AS status, value->>'joined_at' AS joined_at, value, block_number, tx_id
FROM records WHERE kind = 'club' AND NOT deleted;

CREATE VIEW member_anchors AS
SELECT channel, record_key AS member_ref, value->>'home_club' AS home_club, value->>'status' AS status,
       value->>'valid_until' AS valid_until, value, block_number, tx_id
FROM records WHERE kind = 'member' AND NOT deleted;

CREATE VIEW agreements AS
SELECT channel, record_key AS id, value->>'club_a' AS club_a, value->>'club_b' AS club_b,
       value->>'status' AS status, value->>'effective_status' AS effective_status,
       (value->>'version')::INTEGER AS version, value->'terms' AS terms, value->'history' AS past_terms,
       value, block_number, tx_id
FROM records WHERE kind = 'agreement' AND NOT deleted;

CREATE VIEW visits AS
SELECT channel, record_key AS visit_id, value->>'member_ref' AS member_ref, value->>'home_club' AS home_club,
       value->>'host_club' AS host_club, value->>'agreement_id' AS agreement_id,
       value->>'visit_date' AS visit_date, substr(value->>'visit_date', 1, 7) AS month,
       value->>'status' AS status, (value->>'fee_minor')::BIGINT AS fee_minor, value->>'currency' AS currency,
       value, block_number, tx_id
FROM records WHERE kind = 'visit' AND NOT deleted;

CREATE VIEW settlements AS
SELECT channel, record_key AS id, value->>'host_club' AS host_club, value->>'home_club' AS home_club,
       value->>'month' AS month, (value->>'total_minor')::BIGINT AS total_minor, value->>'currency' AS currency,
       value->>'status' AS status, value, block_number, tx_id
FROM records WHERE kind = 'settlement' AND NOT deleted;

CREATE VIEW proposals AS
SELECT channel, record_key AS id, value->>'kind' AS proposal_kind, value->>'status' AS status, value,
       block_number, tx_id
FROM records WHERE kind = 'proposal' AND NOT deleted;

CREATE VIEW votes AS
SELECT channel, split_part(record_key, '/', 1) AS proposal_id, split_part(record_key, '/', 2) AS club,
       value->>'choice' AS choice, value, block_number, tx_id
FROM records WHERE kind = 'vote' AND NOT deleted;
