-- Rows PostgreSQL refused to store (a value or a constraint it will not take) that had already
-- been acknowledged: rows of a batch the receiver's spool took while PostgreSQL was away. When
-- the spool replays such a batch, the COPY sink splits it down to the refused rows, stores the
-- rest, and keeps each refused row here as it was to be copied (its COPY text line or binary
-- tuple, in copy_format, of the table's columns as the receiver names them: src/codec
-- COPY_COLUMNS, the table's columns of 001 in order), with PostgreSQL's answer, so that one row never holds up the spool
-- behind it and nothing acknowledged is silently dropped. A live request with such a row is
-- answered 422 not_storable instead (docs/protocol.md §6) and never reaches this table.
CREATE TABLE IF NOT EXISTS refused_rows (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    refused_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    table_name   VARCHAR(64) NOT NULL,
    copy_format  VARCHAR(8) NOT NULL CHECK (copy_format IN ('text', 'binary')),
    row_data     BYTEA NOT NULL,
    sql_state    VARCHAR(5),
    message      TEXT NOT NULL
);
