-- daily_counts: articles per day and source.
--   day        DATE     the article's publication day (published_date), else the day it was fetched
--   source     VARCHAR  config source name
--   articles   BIGINT   rows of articles on that day
--   words      BIGINT   their word_count summed
CREATE OR REPLACE VIEW daily_counts AS
SELECT coalesce(published_date, CAST(fetched_at AS DATE)) AS day, source, count(*) AS articles,
       CAST(sum(word_count) AS BIGINT) AS words
FROM articles
GROUP BY ALL
ORDER BY day, source;
