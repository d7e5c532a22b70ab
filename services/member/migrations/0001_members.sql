-- Members and their personal data, which stay in this database: the ledger only ever sees member_ref
-- (an HMAC of the member id under the home club's secret), status, validity and a coarse residency zone.

-- One secret per club, made on first use; whoever holds it can link a member_ref to a member.
CREATE TABLE club_secrets (
    club        TEXT PRIMARY KEY,
    secret      BYTEA NOT NULL CHECK (length(secret) = 32),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE members (
    id                 TEXT PRIMARY KEY,
    club               TEXT NOT NULL,
    member_ref         TEXT NOT NULL UNIQUE,
    -- Personal data: NULL once erased.
    name               TEXT,
    email              TEXT,
    membership_number  TEXT,
    photo_url          TEXT,
    status             TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'lapsed')),
    valid_until        DATE NOT NULL,
    residency_zone     TEXT,
    erased_at          TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The ledger transaction that wrote the current anchor, and its block.
    anchor_tx_id       TEXT,
    anchor_block       BIGINT,
    CONSTRAINT members_erased_hold_no_personal_data CHECK (
        erased_at IS NULL
        OR (name IS NULL AND email IS NULL AND membership_number IS NULL AND photo_url IS NULL)
    ),
    CONSTRAINT members_hold_their_personal_data CHECK (
        erased_at IS NOT NULL
        OR (name IS NOT NULL AND email IS NOT NULL AND membership_number IS NOT NULL)
    )
);

-- A membership number belongs to one member of a club; an erased member no longer holds theirs.
CREATE UNIQUE INDEX members_club_membership_number ON members (club, membership_number)
    WHERE erased_at IS NULL;

-- Listing a club's members in id order.
CREATE INDEX members_by_club ON members (club, id);
