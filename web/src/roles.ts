// Which views each role may use. The API refuses the rest anyway; hiding them keeps the
// dashboard honest about what a role can do.

export type Role = 'admin' | 'analyst' | 'viewer' | 'service';
export type View =
  | 'overview' | 'pages' | 'behaviour' | 'funnel' | 'retention' | 'users' | 'events' | 'live'
  | 'projects' | 'accounts' | 'deadletters' | 'audit'
  | 'heatmap' | 'journeys' | 'sharing';

const ANALYTICS: View[] = ['overview', 'pages', 'behaviour', 'funnel', 'retention', 'journeys', 'heatmap'];
const RAW: View[] = ['users', 'events', 'live'];
const ADMIN: View[] = ['projects', 'accounts', 'deadletters', 'audit'];

export function viewsFor(role: string, allProjects: boolean): View[] {
  switch (role) {
    case 'admin':
      // Accounts and the shared dead-letter queue span tenants: admins of all projects only.
      // The audit log shows a scoped admin the entries of their projects.
      return [...ANALYTICS, ...RAW, 'sharing', ...(allProjects ? ADMIN : ['projects', 'audit'] as View[])];
    case 'analyst':
      // Shared links of the project (admins also find them on the Projects page).
      return [...ANALYTICS, ...RAW, 'sharing'];
    case 'viewer':
      return [...ANALYTICS];
    default:
      return [];
  }
}

export function canUse(role: string, allProjects: boolean, view: View): boolean {
  return viewsFor(role, allProjects).includes(view);
}

export const LABELS: Record<View, string> = {
  overview: 'Overview', pages: 'Pages & elements', behaviour: 'Scroll depth', funnel: 'Funnel',
  retention: 'Retention', users: 'User timeline', events: 'Raw events', live: 'Live feed',
  projects: 'Projects', accounts: 'Accounts', deadletters: 'Dead letters', audit: 'Audit log',
  heatmap: 'Heatmap', journeys: 'Journeys', sharing: 'Shared links',
};
