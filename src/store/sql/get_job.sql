SELECT conveyor_job_json(j) AS job FROM jobs j WHERE j.id = $1::uuid
