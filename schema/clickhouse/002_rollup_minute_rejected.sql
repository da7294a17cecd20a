-- rollup_minute rows ClickHouse refused (src/rollups/clickhouse-outbox-sender.ts). A row that
-- cannot be inserted (it does not parse, or breaks a column's type) would otherwise hold back
-- every fold behind it in PostgreSQL's rollup_clickhouse_outbox. The sender finds it by
-- splitting the refused insert in halves until the refused row is alone, parks it here with
-- ClickHouse's error, and sends the rest; machpay_rollup_clickhouse_rows_parked_total counts
-- them. Every column is a String, which takes any text, so parking cannot fail for the row's
-- sake.
--
-- row_json is the row exactly as the outbox held it (a JSONEachRow line, or the outbox
-- entry's whole text when it was not a JSON array of rows). Once the cause is fixed (a column
-- widened, a value corrected), put the rows back (FINAL collapses any that arrive twice):
--   clickhouse-client -q "SELECT row_json FROM rollup_minute_rejected FINAL FORMAT TSVRaw" \
--     | clickhouse-client -q "INSERT INTO rollup_minute FORMAT JSONEachRow"
-- Same rules as 001: idempotent, and valid on 18.16 and current releases.
CREATE TABLE IF NOT EXISTS rollup_minute_rejected (
    row_id          String,
    row_json        String,
    error_code      String,
    error           String,
    outbox_id       String,
    rejected_at     DateTime('UTC')
) ENGINE = ReplacingMergeTree()
ORDER BY row_id
