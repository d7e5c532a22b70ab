-- Every change of the mirror's height is announced on channel `mirror_height` as '<channel> <next block>',
-- delivered when the block's transaction commits: readers learn the height without asking for it.

CREATE FUNCTION notify_mirror_height() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('mirror_height', NEW.channel || ' ' || NEW.next_block);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER mirror_height_changed
    AFTER INSERT OR UPDATE OF next_block ON mirror_checkpoint
    FOR EACH ROW EXECUTE FUNCTION notify_mirror_height();
