import type { Range } from '../range';

/// What every view gets: the selected project and range, and who is looking.
export interface Ctx {
  project: string;
  range: Range;
  role: string;
  allProjects: boolean;
  /// Set by a view holding a subscription or timer; called when the view is left.
  cleanup?: () => void;
}
