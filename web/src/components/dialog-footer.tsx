/**
 * The footer of a dialog: its one action and the way out, side by side at their natural width on a row of
 * their own (they never stretch into a form's grid cell).
 */

export interface DialogFooterProps {
  /** Text of the action (`Agendar`, `Salvar`, `Restaurar`…). */
  primary: string;
  /**
   * What the action does. Without it the button submits the form the footer sits in, so Enter in a field
   * acts as well.
   */
  onPrimary?: () => void;
  disabled?: boolean;
  /** `danger` for what cannot be undone (remove, restore, cancel a consulta). */
  tone?: 'primary' | 'danger';
  /** Text of the way out: `Cancelar` (nothing done), `Fechar`, `Voltar`. */
  cancel?: string;
  onCancel: () => void;
}

export function DialogFooter({ primary, onPrimary, disabled = false, tone = 'primary', cancel = 'Cancelar', onCancel }: DialogFooterProps) {
  return (
    <div class="actions dialog-footer">
      <button type={onPrimary ? 'button' : 'submit'} class={tone} disabled={disabled} onClick={onPrimary}>
        {primary}
      </button>
      <button type="button" onClick={onCancel}>
        {cancel}
      </button>
    </div>
  );
}
