-- Vitrine schema version 4 is reserved for the migration being written on
-- main (moderation and polls). This placeholder keeps the numbering without
-- gaps on the recorder branch; delete it when merging, keeping main's 0004.
SELECT 1;
