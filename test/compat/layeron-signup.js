// The seed's /signup route, verbatim (plain JavaScript, as the seed writes it). On Hono the
// handler's argument is the Context; app.use(jobs) makes its json() with no argument read the body.
export function mountSignup(app, jobs) {
app.post("/signup", async (request) => { const body = await request.json()
const run = await jobs.enqueue("notify-user", { userId: body.userId, template: "welcome", data: { plan: body.plan, }, }, { idempotencyKey: `welcome:${body.userId}`, })
return Response.json({ queued: true, runId: run.runId, })})
}
