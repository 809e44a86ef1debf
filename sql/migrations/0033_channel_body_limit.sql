-- A channel's own body limit (`channels set NAME --max-body`): a Coexistence history
-- webhook may hold thousands of messages, past the default. NULL: the default
-- (WABAHOOK_MAX_BODY_BYTES); every limit stays within WABAHOOK_MAX_BODY_CEILING_BYTES.
ALTER TABLE wabahook.channels
    ADD COLUMN max_body_bytes bigint CHECK (max_body_bytes > 0);
