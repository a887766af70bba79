import type Database from 'better-sqlite3'

/** Statements for durable steps, progress and run logs. */
export class SqliteStepStatements {
  readonly listSteps: Database.Statement
  readonly saveStep: Database.Statement
  readonly setProgress: Database.Statement
  readonly appendLog: Database.Statement
  readonly listLogs: Database.Statement
  readonly pruneSteps: Database.Statement
  readonly pruneLogs: Database.Statement

  constructor(db: Database.Database) {
    this.listSteps = db.prepare(`SELECT * FROM errand_steps WHERE run_id = ? ORDER BY completed_at, rowid`)
    // Fenced: the step is stored only while this attempt holds the run (the caller holds
    // BEGIN IMMEDIATE, so the check and the insert see the same row). The first result stands.
    this.saveStep = db.prepare(`
      INSERT INTO errand_steps (run_id, name, kind, attempt, output, wake_at, completed_at)
      SELECT @runId, @name, @kind, @attempt, @output, @wakeAt, @now
      WHERE EXISTS (SELECT 1 FROM errand_runs WHERE id = @runId AND status = 'running' AND attempt = @attempt)
      ON CONFLICT DO NOTHING`)
    this.setProgress = db.prepare(`
      UPDATE errand_runs SET progress = @progress, updated_at = @now
      WHERE id = @id AND status = 'running' AND attempt = @attempt`)
    this.appendLog = db.prepare(`
      INSERT INTO errand_logs (run_id, attempt, at, level, message, data) VALUES (@runId, @attempt, @at, @level, @message, @data)`)
    this.listLogs = db.prepare(`
      SELECT * FROM (SELECT * FROM errand_logs WHERE run_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id`)
    this.pruneSteps = db.prepare(`DELETE FROM errand_steps WHERE run_id IN (SELECT value FROM json_each(?))`)
    this.pruneLogs = db.prepare(`DELETE FROM errand_logs WHERE run_id IN (SELECT value FROM json_each(?))`)
  }
}
