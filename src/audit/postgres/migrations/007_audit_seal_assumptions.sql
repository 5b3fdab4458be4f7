-- A replica that wrote the chain's last row may send a sealing transaction whole, in one round
-- trip, on what it assumes: that the head is still that row, and that the rows it seals are
-- still open. This function checks each assumption inside the transaction, under the chain lock:
-- when one does not hold it raises SQLSTATE VLG01, which aborts the transaction before COMMIT;
-- the replica rolls it back and seals again after reading the head and the rows under the lock.
CREATE FUNCTION audit_assume(holds boolean, assumption text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF holds IS NOT TRUE THEN
    RAISE EXCEPTION 'audit seal assumption does not hold: %', assumption USING ERRCODE = 'VLG01';
  END IF;
END $$;
