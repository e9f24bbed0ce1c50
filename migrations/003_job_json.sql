-- The API rendering of a job (README "The job object"), the one definition every query uses.
-- Built by PostgreSQL so that rows never round-trip through C++ to be shown.
CREATE FUNCTION conveyor_job_json(j jobs) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object('id', j.id, 'job_type', j.job_type, 'payload', j.payload,
        'status', j.status, 'attempts', j.attempts, 'max_attempts', j.max_attempts,
        'last_error', j.last_error, 'scheduled_at', conveyor_ts(j.scheduled_at),
        'processing_started_at', conveyor_ts(j.processing_started_at),
        'created_at', conveyor_ts(j.created_at), 'updated_at', conveyor_ts(j.updated_at))::text;
