// Dashboard: overview cards and daily charts over a chosen range.
import { useEffect, useState } from 'preact/hooks';
import { t } from '../i18n';
import { bytes, count, daysAgo, isoDate } from '../format';
import { api } from '../state';
import { ErrorBox, Loading } from '../components/ui';
import { BarChart } from '../components/BarChart';

interface Overview {
  total_videos: number;
  total_users: number;
  total_views: number;
  storage_used: number;
  today: { new_videos: number; new_users: number; views: number };
}
interface VideoDay {
  date: string;
  new_videos: number;
  views: number;
}
interface UserDay {
  date: string;
  new_users: number;
  active_users: number;
}

export function Dashboard() {
  const [ov, setOv] = useState<Overview | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [range, setRange] = useState({ start: daysAgo(29), end: isoDate(new Date()) });
  const [vids, setVids] = useState<VideoDay[] | null>(null);
  const [users, setUsers] = useState<UserDay[] | null>(null);
  const [rangeErr, setRangeErr] = useState<unknown>(null);
  useEffect(() => {
    api.get<Overview>('/admin/statistics/overview').then(setOv, setErr);
  }, []);
  useEffect(() => {
    setRangeErr(null);
    const q = { start_date: range.start, end_date: range.end };
    Promise.all([
      api.get<{ list: VideoDay[] }>('/admin/statistics/videos', q),
      api.get<{ list: UserDay[] }>('/admin/statistics/users', q),
    ]).then(
      ([v, u]) => {
        setVids(v.list ?? []);
        setUsers(u.list ?? []);
      },
      setRangeErr,
    );
  }, [range.start, range.end]);
  const preset = (days: number) => setRange({ start: daysAgo(days - 1), end: isoDate(new Date()) });
  return (
    <div class="dashboard">
      <ErrorBox error={err} />
      {!ov && !err && <Loading />}
      {ov && (
        <div class="cards">
          <Card label={t('stats.videos')} value={count(ov.total_videos)} sub={t('stats.today', { n: ov.today?.new_videos ?? 0 })} />
          <Card label={t('stats.users')} value={count(ov.total_users)} sub={t('stats.today', { n: ov.today?.new_users ?? 0 })} />
          <Card label={t('stats.views')} value={count(ov.total_views)} sub={t('stats.today', { n: ov.today?.views ?? 0 })} />
          <Card label={t('stats.storage')} value={bytes(ov.storage_used)} />
        </div>
      )}
      <div class="range">
        <label>
          {t('stats.from')}{' '}
          <input type="date" value={range.start} max={range.end} onChange={(e) => setRange({ ...range, start: e.currentTarget.value })} />
        </label>
        <label>
          {t('stats.to')} <input type="date" value={range.end} min={range.start} onChange={(e) => setRange({ ...range, end: e.currentTarget.value })} />
        </label>
        <span class="presets">
          {[7, 30, 90, 365].map((d) => (
            <button key={d} class="small" onClick={() => preset(d)}>
              {t('stats.lastDays', { n: d })}
            </button>
          ))}
        </span>
      </div>
      <ErrorBox error={rangeErr} />
      {vids && (
        <BarChart
          title={t('stats.newVideos')}
          dates={vids.map((d) => d.date)}
          series={[{ label: t('stats.newVideos'), color: '#e4572e', values: vids.map((d) => d.new_videos) }]}
        />
      )}
      {vids && (
        <BarChart
          title={t('stats.views')}
          dates={vids.map((d) => d.date)}
          series={[{ label: t('stats.views'), color: '#2e86de', values: vids.map((d) => d.views) }]}
        />
      )}
      {users && (
        <BarChart
          title={t('stats.userChart')}
          dates={users.map((d) => d.date)}
          series={[
            { label: t('stats.newUsers'), color: '#10ac84', values: users.map((d) => d.new_users) },
            { label: t('stats.activeUsers'), color: '#8854d0', values: users.map((d) => d.active_users) },
          ]}
        />
      )}
    </div>
  );
}

function Card({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return (
    <div class="stat-card">
      <small>{label}</small>
      <b>{value}</b>
      {sub && <small class="muted">{sub}</small>}
    </div>
  );
}
