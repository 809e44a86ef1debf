-- The items at `paths` (comma-separated steps) of one document, decompressed once.
-- A large jsonb value is kept compressed apart (TOAST), and every function given the
-- stored value opens it again: reading a body's thousands of items one by one would
-- cost time in the square of its size. Here the document is opened into a variable
-- once and each item read out of it in place.
CREATE OR REPLACE FUNCTION wabahook.document_items(doc jsonb, paths text[])
RETURNS TABLE (path text, item jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    opened jsonb := CASE jsonb_typeof(doc) WHEN 'object' THEN doc || '{}'::jsonb ELSE doc END;
BEGIN
    FOREACH path IN ARRAY paths LOOP
        item := jsonb_extract_path(opened, VARIADIC string_to_array(path, ','));
        RETURN NEXT;
    END LOOP;
END
$$;
