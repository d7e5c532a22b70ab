-- Indexes for the domain services' reads of the visits view: a host's visits in a month (the front desk's
-- and the settlement's question), a member's visits (quota counting), and a home club's visits in a month.

CREATE INDEX records_visits_by_host_month ON records
    (channel, (value->>'host_club'), (substr(value->>'visit_date', 1, 7)), record_key)
    WHERE kind = 'visit' AND NOT deleted;

CREATE INDEX records_visits_by_member ON records
    (channel, (value->>'member_ref'), (value->>'host_club'), (value->>'visit_date'))
    WHERE kind = 'visit' AND NOT deleted;

CREATE INDEX records_visits_by_home_month ON records
    (channel, (value->>'home_club'), (substr(value->>'visit_date', 1, 7)), record_key)
    WHERE kind = 'visit' AND NOT deleted;
