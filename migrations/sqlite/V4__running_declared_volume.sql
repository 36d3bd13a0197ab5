
CREATE TABLE ledger_volume (
    agb TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    year INTEGER NOT NULL,
    product_code TEXT NOT NULL,
    base_volume INTEGER NOT NULL,
    PRIMARY KEY (agb, zorgkantoor, year, product_code)
) WITHOUT ROWID;
INSERT INTO ledger_volume (agb, zorgkantoor, year, product_code, base_volume)
    SELECT agb, zorgkantoor, year, product_code, SUM(base_volume)
    FROM ledger_line GROUP BY agb, zorgkantoor, year, product_code;
CREATE TRIGGER ledger_volume_add AFTER INSERT ON ledger_line BEGIN
    INSERT INTO ledger_volume (agb, zorgkantoor, year, product_code, base_volume)
    VALUES (NEW.agb, NEW.zorgkantoor, NEW.year, NEW.product_code, NEW.base_volume)
    ON CONFLICT (agb, zorgkantoor, year, product_code)
    DO UPDATE SET base_volume = base_volume + excluded.base_volume;
END;
CREATE TRIGGER ledger_volume_sub AFTER DELETE ON ledger_line BEGIN
    UPDATE ledger_volume SET base_volume = base_volume - OLD.base_volume
    WHERE agb = OLD.agb AND zorgkantoor = OLD.zorgkantoor
      AND year = OLD.year AND product_code = OLD.product_code;
END;
