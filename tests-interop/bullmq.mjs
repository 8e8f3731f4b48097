// The real BullMQ client against Sightline's queue, driven by server/tests/api/bullmq.rs.
//   node bullmq.mjs add <jobs> <eventsPerJob>  -> Queue.add('ingest', ...) jobs; prints the events' ids as JSON
//   node bullmq.mjs counts                     -> prints Queue.getJobCounts() as JSON
//   node bullmq.mjs consume <jobs>             -> a BullMQ Worker processes <jobs> jobs; prints their data as JSON
//   node bullmq.mjs pause | resume             -> Queue.pause() / Queue.resume()
//   node bullmq.mjs is-paused                  -> prints Queue.isPaused() as JSON
// Environment: REDIS_URL, QUEUE_PREFIX, QUEUE_NAME, PROJECT_ID.
import { Queue, Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';

const url = new URL(process.env.REDIS_URL);
const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
const prefix = process.env.QUEUE_PREFIX;
const name = process.env.QUEUE_NAME || 'events';
const [mode, a, b] = process.argv.slice(2);

if (mode === 'add') {
  const queue = new Queue(name, { connection, prefix });
  const ids = [];
  for (let j = 0; j < Number(a); j++) {
    const events = [];
    for (let i = 0; i < Number(b); i++) {
      const id = randomUUID();
      ids.push(id);
      events.push({ id, type: 'user.signup', ts: Date.now(), user_id: `node-${j}-${i}`, props: { from: 'bullmq' } });
    }
    await queue.add('ingest', { project_id: process.env.PROJECT_ID, received_at: Date.now(), events });
  }
  console.log(JSON.stringify(ids));
  await queue.close();
} else if (mode === 'counts') {
  const queue = new Queue(name, { connection, prefix });
  console.log(JSON.stringify(await queue.getJobCounts('wait', 'active', 'completed', 'failed', 'delayed')));
  await queue.close();
} else if (mode === 'consume') {
  const want = Number(a);
  const seen = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.length} of ${want} jobs consumed`)), 20000);
    const worker = new Worker(name, async (job) => {
      seen.push({ name: job.name, data: job.data });
      if (seen.length >= want) {
        clearTimeout(timer);
        setImmediate(() => worker.close().then(resolve, reject));
      }
      return 'ok';
    }, { connection, prefix });
    worker.on('error', reject);
  });
  console.log(JSON.stringify(seen));
} else if (mode === 'pause' || mode === 'resume' || mode === 'is-paused') {
  const queue = new Queue(name, { connection, prefix });
  if (mode === 'pause') await queue.pause();
  else if (mode === 'resume') await queue.resume();
  else console.log(JSON.stringify(await queue.isPaused()));
  await queue.close();
} else {
  console.error('usage: node bullmq.mjs add <jobs> <events> | counts | consume <jobs> | pause | resume | is-paused');
  process.exit(2);
}
