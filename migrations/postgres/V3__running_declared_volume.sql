
CREATE TABLE ledger_volume (
    agb TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    year INTEGER NOT NULL,
    product_code TEXT NOT NULL,
    base_volume BIGINT NOT NULL,
    PRIMARY KEY (agb, zorgkantoor, year, product_code)
);
INSERT INTO ledger_volume (agb, zorgkantoor, year, product_code, base_volume)
    SELECT agb, zorgkantoor, year, product_code, SUM(base_volume)
    FROM ledger_line GROUP BY agb, zorgkantoor, year, product_code;
CREATE FUNCTION ledger_volume_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ledger_volume (agb, zorgkantoor, year, product_code, base_volume)
        VALUES (NEW.agb, NEW.zorgkantoor, NEW.year, NEW.product_code, NEW.base_volume)
        ON CONFLICT (agb, zorgkantoor, year, product_code)
        DO UPDATE SET base_volume = ledger_volume.base_volume + EXCLUDED.base_volume;
        RETURN NEW;
    ELSE
        UPDATE ledger_volume SET base_volume = base_volume - OLD.base_volume
        WHERE agb = OLD.agb AND zorgkantoor = OLD.zorgkantoor
          AND year = OLD.year AND product_code = OLD.product_code;
        RETURN OLD;
    END IF;
END $$;
CREATE TRIGGER ledger_volume_track AFTER INSERT OR DELETE ON ledger_line
    FOR EACH ROW EXECUTE FUNCTION ledger_volume_track();
