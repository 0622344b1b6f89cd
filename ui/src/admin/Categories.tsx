// Categories: a tree editor (add a root or a child, rename, move, reorder,
// delete).
import { useEffect, useState } from 'preact/hooks';
import type { Category } from '../api';
import { t } from '../i18n';
import { api } from '../state';
import { CategorySelect, ConfirmButton, ErrorBox, fieldError, Loading, loadCategories } from '../components/ui';

export function Categories() {
  const [tree, setTree] = useState<Category[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [editing, setEditing] = useState<number | 'new' | null>(null);
  const [parentFor, setParentFor] = useState(0);
  const load = () => loadCategories(true).then(setTree, setErr);
  useEffect(() => {
    load();
  }, []);
  const remove = async (c: Category) => {
    setErr(null);
    try {
      await api.del('/admin/categories/' + c.id);
      load();
    } catch (e) {
      setErr(e);
    }
  };
  const node = (c: Category) => (
    <li key={c.id}>
      {editing === c.id ? (
        <CategoryForm
          cat={c}
          tree={tree ?? []}
          onDone={() => {
            setEditing(null);
            load();
          }}
        />
      ) : (
        <div class="cat-row">
          <span class="name">{c.name}</span>
          <small class="muted">
            #{c.id} · {t('categories.sort')} {c.sort}
          </small>
          <span class="actions">
            <button class="small" onClick={() => setEditing(c.id)}>
              {t('common.edit')}
            </button>
            <button
              class="small"
              onClick={() => {
                setParentFor(c.id);
                setEditing('new');
              }}
            >
              {t('categories.addChild')}
            </button>
            <ConfirmButton class="small danger" label={t('common.delete')} confirm={t('categories.confirmDelete', { name: c.name })} onConfirm={() => remove(c)} />
          </span>
        </div>
      )}
      {c.children?.length ? <ul>{c.children.map(node)}</ul> : null}
    </li>
  );
  return (
    <div class="categories">
      <div class="toolbar">
        <button
          class="primary"
          onClick={() => {
            setParentFor(0);
            setEditing('new');
          }}
        >
          {t('categories.add')}
        </button>
      </div>
      <ErrorBox error={err} />
      {editing === 'new' && (
        <div class="card">
          <CategoryForm
            cat={{ id: 0, name: '', parent_id: parentFor, sort: 0 }}
            tree={tree ?? []}
            onDone={() => {
              setEditing(null);
              load();
            }}
          />
        </div>
      )}
      {!tree && !err && <Loading />}
      {tree && tree.length === 0 && <p class="empty">{t('categories.none')}</p>}
      {tree && <ul class="cat-editor">{tree.map(node)}</ul>}
    </div>
  );
}

function CategoryForm({ cat, tree, onDone }: { cat: Category; tree: Category[]; onDone: () => void }) {
  const [f, setF] = useState({ name: cat.name, parent_id: cat.parent_id, sort: cat.sort });
  const [err, setErr] = useState<unknown>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    try {
      if (cat.id) await api.put('/admin/categories/' + cat.id, f);
      else await api.post('/admin/categories', f);
      onDone();
    } catch (e) {
      setErr(e);
    }
  };
  return (
    <form class="cat-form" onSubmit={save}>
      <ErrorBox error={err} inline={['name', 'parent_id', 'sort']} />
      <div class="inline">
        <label class="field">
          <span class="label">{t('categories.name')}</span>
          <input name="name" value={f.name} maxLength={50} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} required />
          {fieldError(err, 'name') && <small class="field-error">{fieldError(err, 'name')}</small>}
        </label>
        <label class="field">
          <span class="label">{t('categories.parent')}</span>
          <CategorySelect cats={tree} value={f.parent_id} none={t('categories.root')} exclude={cat.id || undefined} onChange={(p) => setF({ ...f, parent_id: p })} />
          {fieldError(err, 'parent_id') && <small class="field-error">{fieldError(err, 'parent_id')}</small>}
        </label>
        <label class="field short">
          <span class="label">{t('categories.sort')}</span>
          <input type="number" value={String(f.sort)} onInput={(e) => setF({ ...f, sort: Number(e.currentTarget.value) || 0 })} />
          {fieldError(err, 'sort') && <small class="field-error">{fieldError(err, 'sort')}</small>}
        </label>
      </div>
      <div class="actions">
        <button class="primary" type="submit">
          {t('common.save')}
        </button>
        <button type="button" onClick={onDone}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}
