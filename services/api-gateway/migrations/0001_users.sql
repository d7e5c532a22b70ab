-- Who a signed-in user is on this platform: the token's subject (Hanko's user id) mapped to a role, the club
-- it acts for, and for members, the member id. No other personal data is kept here.
CREATE TABLE users (
    subject     TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('network_admin', 'club_admin', 'front_desk', 'member')),
    club        TEXT,
    member_id   TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((role = 'network_admin') = (club IS NULL)),
    CHECK ((role = 'member') = (member_id IS NOT NULL))
);
