-- One index of a patron's loans instead of two. loan_open_patron (open loans by due date) and
-- loan_patron (every loan by checkout time) were both written by every checkout, and each is a page
-- of the WAL at every commit. In (patron_id, closed_at, due_at) a patron's open loans come first
-- (NULL sorts first), by due date: the counts and lists circulation asks for at every checkout read
-- them alone, and a patron's history is the rest of the same range.
DROP INDEX loan_open_patron;
DROP INDEX loan_patron;
CREATE INDEX loan_patron ON loan(patron_id, closed_at, due_at);
