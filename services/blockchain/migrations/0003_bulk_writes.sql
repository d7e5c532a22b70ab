-- Catch-up writes thousands of rows per database transaction, and two costs dominated it:
--
-- * Raw blocks are mostly certificates and signatures; LZ4 compresses them several times faster than the
--   default pglz.
-- * The foreign keys from transactions, writes and events to their block and transaction checked every row
--   with a trigger, for rows the mirror derives from the same block in the same database transaction.
--   `audit verify` checks every derived row against its raw block instead.
ALTER TABLE blocks ALTER COLUMN raw SET COMPRESSION lz4;
ALTER TABLE writes ALTER COLUMN value SET COMPRESSION lz4;
ALTER TABLE transactions DROP CONSTRAINT transactions_channel_block_number_fkey;
ALTER TABLE writes DROP CONSTRAINT writes_channel_block_number_position_fkey;
ALTER TABLE events DROP CONSTRAINT events_channel_block_number_position_fkey;

-- Transactions are looked up by id only for equality: a hash index needs no ordered, locale-aware
-- comparisons of random ids on every insert.
DROP INDEX transactions_by_tx_id;
CREATE INDEX transactions_by_tx_id ON transactions USING hash (tx_id);
