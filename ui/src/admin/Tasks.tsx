// Transcode tasks: live progress (polled every 2 s), log viewer, retry and
// cancel.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Page, Task } from '../api';
import { t } from '../i18n';
import { api, setQuery, usePoll, useQuery } from '../state';
import { ConfirmButton, ErrorBox, Loading, Modal, Pager, ProgressBar, taskStatusText } from '../components/ui';

const statuses = ['', 'pending', 'processing', 'completed', 'failed', 'canceled'];
const size = 20;

export function Tasks() {
  const q = useQuery();
  const status = q.get('status') ?? '';
  const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
  const logId = Number(q.get('log') ?? 0);
  const [data, setData] = useState<Page<Task> | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [actionErr, setActionErr] = useState<unknown>(null);
  const load = () => api.get<Page<Task>>('/admin/transcode/tasks', { page, size, status }).then((d) => (setData(d), setErr(null)), setErr);
  useEffect(() => {
    load();
  }, [status, page]);
  usePoll(load, 2000, true, [status, page]);

  const act = async (task: Task, what: 'retry' | 'cancel') => {
    setActionErr(null);
    try {
      await api.post(`/admin/transcode/tasks/${task.id}/${what}`);
      await load();
    } catch (e) {
      setActionErr(e);
    }
  };

  return (
    <div class="tasks">
      <div class="toolbar">
        <label>
          {t('tasks.filter')}{' '}
          <select value={status} onChange={(e) => setQuery({ status: (e.target as HTMLSelectElement).value, page: undefined })}>
            {statuses.map((s) => (
              <option key={s} value={s}>
                {s ? taskStatusText(s) : t('tasks.all')}
              </option>
            ))}
          </select>
        </label>
        <span class="muted live">● {t('tasks.live')}</span>
      </div>
      <ErrorBox error={err || actionErr} />
      {!data && !err && <Loading />}
      {data && data.list.length === 0 && <p class="empty">{t('tasks.none')}</p>}
      {data && data.list.length > 0 && (
        <div class="table-wrap">
          <table class="task-table stack">
            <thead>
              <tr>
                <th>#</th>
                <th>{t('tasks.video')}</th>
                <th>{t('tasks.status')}</th>
                <th class="progress-col">{t('tasks.progress')}</th>
                <th>{t('tasks.times')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.list.map((task) => (
                <tr key={task.id} data-status={task.status}>
                  <td>{task.id}</td>
                  <td>
                    <a href={'/watch/' + task.video_id}>{task.video_title || '#' + task.video_id}</a>
                    {task.error && <div class="field-error">{task.error}</div>}
                  </td>
                  <td data-label={t('tasks.status')}>
                    <span class={'badge t-' + task.status}>{taskStatusText(task.status)}</span>
                  </td>
                  <td data-label={t('tasks.progress')}>
                    <ProgressBar value={task.status === 'completed' ? 100 : task.progress ?? 0} />
                  </td>
                  <td class="muted small-text times">
                    <div>{t('tasks.created')}: {task.created_at || '–'}</div>
                    {task.started_at && <div>{t('tasks.started')}: {task.started_at}</div>}
                    {task.finished_at && <div>{t('tasks.finished')}: {task.finished_at}</div>}
                  </td>
                  <td class="actions">
                    <button class="small" onClick={() => setQuery({ log: task.id })}>
                      {t('tasks.log')}
                    </button>
                    {(task.status === 'failed' || task.status === 'canceled') && (
                      <button class="small" onClick={() => act(task, 'retry')}>
                        {t('tasks.retry')}
                      </button>
                    )}
                    {(task.status === 'pending' || task.status === 'processing') && (
                      // Stopping throws away the work done so far: ask first.
                      <ConfirmButton
                        class="small danger"
                        label={t('tasks.cancel')}
                        confirm={t('tasks.confirmCancel')}
                        yes={t('tasks.stop')}
                        no={t('tasks.keepGoing')}
                        onConfirm={() => act(task, 'cancel')}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && <Pager page={page} size={size} total={data.total} onPage={(p) => setQuery({ page: p > 1 ? p : undefined })} />}
      {logId > 0 && <TaskLog id={logId} onClose={() => setQuery({ log: undefined })} />}
    </div>
  );
}

function TaskLog({ id, onClose }: { id: number; onClose: () => void }) {
  const [task, setTask] = useState<Task | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const pre = useRef<HTMLPreElement>(null);
  const load = () => api.get<Task>('/admin/transcode/tasks/' + id).then(setTask, setErr);
  useEffect(() => {
    load();
  }, [id]);
  usePoll(load, 2000, task?.status === 'processing' || task?.status === 'pending', [id]);
  useEffect(() => {
    // Keep the newest lines in view while it runs.
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [task?.log]);
  return (
    <Modal title={t('tasks.logTitle', { id })} onClose={onClose} wide>
      <ErrorBox error={err} />
      {!task && !err && <Loading />}
      {task && (
        <>
          <p>
            <span class={'badge t-' + task.status}>{taskStatusText(task.status)}</span> {task.video_title} · {task.progress ?? 0}%
          </p>
          {task.error && <div class="alert error">{task.error}</div>}
          <pre class="log" ref={pre}>
            {task.log || t('tasks.noLog')}
          </pre>
        </>
      )}
    </Modal>
  );
}
